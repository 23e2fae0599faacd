"""Vision only: camera source, person and dog detectors, resource monitor, AdaScale manager.

    ros2 launch gc_perception vision.launch.py [namespace:=cam_a] [video:=rtsp://...] ...
Arguments: namespace, config, groups, video, audio, person_model, dog_model, kws_model
(`ros2 launch gc_perception vision.launch.py --show-args`). The node list comes from
config/suite.yaml through gc_perception.suite.spec, the same as `gc-perception up`.
"""

from gc_perception.suite.ros_launch import generate


def generate_launch_description():
    return generate(default_groups="vision,monitor,manager")
