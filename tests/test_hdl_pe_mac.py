"""MacPE: what the contract test (``test_hdl_pe.py``) does not cover."""


from qtpe.hdl.kind_mac import MacConfig
from qtpe.hdl.pe_mac import MacPE


def test_component_exposes_config_and_latency():
    cfg = MacConfig(pipeline=True)
    pe = MacPE(cfg)
    pe._MustUse__silence = True  # inspected, not elaborated
    assert pe.config is cfg and pe.latency == 2
    assert pe.signature.members["acc"].shape.width == cfg.acc.bits
