"""rclpy nodes. Importing this package first configures localhost-only DDS (gc_perception.ros_env),
so every node entry point has it in place before its module imports rclpy."""

from gc_perception import ros_env

ros_env.configure()
