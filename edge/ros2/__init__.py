"""ROS 2 bridge: drive ROS 2 robot controllers from RoboOS skills and VLA action chunks.

``rclpy`` and the message packages come from the ``roboos[ros]`` extra (PyPI wheels, no ROS install
needed) or from a sourced ROS 2 installation. Only :mod:`.config`, :mod:`.errors` and
:mod:`.trajectory` import without rclpy; everything else loads it.
"""
