"""gc_perception: GC-gated always-on perception nodes with AdaScale adaptation for ROS 2."""

__version__ = "0.1.0"
