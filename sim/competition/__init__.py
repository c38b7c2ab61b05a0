"""The competition harness: episodes, agents (RoboOS stack or a VLA policy), worker pool, leaderboard."""
