"""Declared preconditions and effects of the benchmark skills (shared condition phrases).

A condition is a short phrase; a skill whose ``effects`` contain the phrase can satisfy another skill
whose ``preconditions`` contain it. Cards carry both, so planners see them and retrieval can pull in
the skill that makes a retrieved skill's precondition true (see ``SkillRetriever.retrieve``).
"""

HOLDING = "holding an object"
AIRBORNE = "airborne"
TOOL = "tool mounted"
CART = "cart attached"

_EFFECTS: dict[str, list[str]] = {
    HOLDING: ["pick_object", "take_from_container", "pick_from_bin", "receive_from_person", "depalletize",
              "lift_box", "suction_on"],
    AIRBORNE: ["take_off"],
    TOOL: ["change_tool"],
    CART: ["attach_cart"],
}
_PRECONDITIONS: dict[str, list[str]] = {
    HOLDING: ["place_object", "put_in_container", "handover_to_person", "pour_liquid", "stir_contents",
              "wipe_surface", "scrub_surface", "water_plant", "palletize", "load_dishwasher", "scoop",
              "cut_with_knife", "spread_on", "insert_peg", "weigh_object", "suction_off", "carry_tray"],
    AIRBORNE: ["fly_to", "hover", "orbit_point", "survey_area", "drop_package", "land", "set_altitude",
               "track_target_aerial", "return_to_launch"],
    TOOL: ["screw_in", "unscrew", "apply_glue", "sand_surface", "spray_paint", "weld_seam"],
    CART: ["tow_cart", "detach_cart"],
}


def conditions_of(skill: str) -> tuple[list[str], list[str]]:
    """``(preconditions, effects)`` declared for a benchmark skill."""
    pre = [cond for cond, names in _PRECONDITIONS.items() if skill in names]
    eff = [cond for cond, names in _EFFECTS.items() if skill in names]
    return pre, eff
