"""Service-task handlers, one module each; importing this package registers them all."""

from . import decision, notify, register_tlv, swv_term  # noqa: F401
