"""The on-die 2D mesh network: routers, the mesh and its configuration, network interfaces,
and the die-to-die link as a mesh port (two dies, :mod:`hdl.link.noc.chip`)."""

from .chip import (
    DIE_NET_CONFIGS,
    D2DBridge,
    DieNetConfig,
    DieNetwork,
    TwoDieNetwork,
    die_net_config,
)
from .config import MESH_CONFIGS, VC_REQUEST, VC_RESPONSE, MeshConfig, mesh_config
from .flit import LinkSignature, flit_layout
from .mesh import Mesh
from .router import FlitQueue, Router

__all__ = ["MeshConfig", "MESH_CONFIGS", "mesh_config", "VC_REQUEST", "VC_RESPONSE",
           "flit_layout", "LinkSignature", "FlitQueue", "Router", "Mesh",
           "DieNetConfig", "DIE_NET_CONFIGS", "die_net_config", "D2DBridge", "DieNetwork",
           "TwoDieNetwork"]
