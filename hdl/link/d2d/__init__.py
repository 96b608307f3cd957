"""The die-to-die link layer: flits with CRC-16, go-back-N replay, credits per virtual channel,
lanes and a link state machine."""

from .config import D2DConfig, d2d_config
from .lanes import Deserializer, Serializer, lanes_layout
from .link import NUM_VCS, D2DLink, status_layout

__all__ = ["D2DConfig", "d2d_config", "D2DLink", "Serializer", "Deserializer", "lanes_layout",
           "status_layout", "NUM_VCS"]
