"""The on-die 2D mesh network: routers, the mesh and its configuration."""

from .config import MESH_CONFIGS, VC_REQUEST, VC_RESPONSE, MeshConfig, mesh_config
from .flit import LinkSignature, flit_layout
from .mesh import Mesh
from .router import FlitQueue, Router

__all__ = ["MeshConfig", "MESH_CONFIGS", "mesh_config", "VC_REQUEST", "VC_RESPONSE",
           "flit_layout", "LinkSignature", "FlitQueue", "Router", "Mesh"]
