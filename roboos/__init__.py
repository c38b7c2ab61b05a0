"""RoboOS: embodied-AI cloud-edge robotics runtime."""
__version__ = "0.1.0"
