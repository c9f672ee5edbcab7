"""BitSerialPE: its ports (the contract test, ``test_hdl_pe.py``, checks it against the model
and the cycle formula)."""


from qtpe.hdl.formats import QType
from qtpe.hdl.kind_bitserial import BitSerialConfig, BitSerialDType
from qtpe.hdl.pe_bitserial import BitSerialPE


def test_component_exposes_config_and_ports():
    cfg = BitSerialConfig(weight=QType(4, False), lanes=4, group_size=8,
                          dtype=BitSerialDType.OFFSET, special_bits=4)
    pe = BitSerialPE(cfg)
    pe._MustUse__silence = True  # inspected, not elaborated
    assert pe.config is cfg and pe.latency == 4 + 2 and pe.fixed_latency == 2
    members = pe.signature.members
    assert set(members) == {"in_valid", "in_ready", "clear", "wbits", "weight", "act", "scale",
                            "zero", "acc", "out_valid"}
    assert members["weight"].shape.size == 16 and members["wbits"].shape.width == 3
    assert members["acc"].shape.width == cfg.acc.bits
