"""Service-task handlers, one module each; importing this package registers them all."""

from . import decision, decision_extend, notify, register_tlv, swv_term, zorgplicht  # noqa: F401
