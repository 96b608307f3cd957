"""The chiplet interconnect: the die-to-die link layer (``d2d``) and the on-die mesh (``noc``)."""
