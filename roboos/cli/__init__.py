"""The ``roboos`` command line. Each ``cmd_<area>.py`` module adds its commands via ``register(app)``."""
