# Make `import roboos.<area>` work in a plain copy of this checkout (e.g. on the GPU device machine), without
# `pip install`: setup.py maps brain/ -> roboos.brain, skills/ -> roboos.skills, ...; this script rebuilds that
# mapping as a folder of symbolic links and puts it first on PYTHONPATH.
#
# Usage (from the repository root):
#     source scripts/device_env.sh && roboos_py -m roboos.brain.engine.bench --out "$OUT/x.json"
# `roboos_py` is python run from inside the link folder: `python -m`/`-c` put the current directory first on
# sys.path, and in the repository root the real roboos/ folder (which has no brain/, skills/ ...) would
# shadow the mapping. Use absolute paths for files (e.g. $OUT); $ROBOOS_ROOT is the repository root.
# Override the link folder with ROBOOS_SITE=/some/dir.

_roboos_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
_roboos_site="${ROBOOS_SITE:-/tmp/roboos_site}"
rm -rf "$_roboos_site"
mkdir -p "$_roboos_site/roboos"
for _f in "$_roboos_root"/roboos/*; do
    ln -s "$_f" "$_roboos_site/roboos/$(basename "$_f")"
done
for _area in brain skills edge sim configs protos; do      # the folder -> roboos.<area> mapping of setup.py
    if [ -d "$_roboos_root/$_area" ]; then
        ln -sfn "$_roboos_root/$_area" "$_roboos_site/roboos/$_area"
    fi
done
export PYTHONPATH="$_roboos_site${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1
export ROBOOS_SITE="$_roboos_site" ROBOOS_ROOT="$_roboos_root"
roboos_py() { (cd "$ROBOOS_SITE" && python "$@"); }
unset _roboos_root _roboos_site _f _area
