"""The registry of PE kinds: one ``Kind`` record per family, registered once.

A kind declares, in its own module (``qtpe.hdl.kind_mac`` ...), everything the rest of qtpe
needs to know about it: its config record (which also carries the facts an array needs:
``beat_lanes``, ``beat_cycles``, ``cell_latency``, ``check_in_array``), the Amaranth
component of a single PE, the array cell (how ``qtpe.hdl.array`` builds an array of it), its
golden model, its cocotb test module and its presets. The arrays, the emitter, the flow, the
CLI, the bench and the shared tests ask this registry; none of them names a kind.

The component, cell and model are named ``"module:attribute"`` and imported on first use, so
that the registry (and every config record) stays free of Amaranth and numpy.

Adding a kind: write its module (see ``docs/adding-a-kind.md``) and add it to ``KIND_MODULES``
below; that line is the only shared code that changes (a new number format also goes into
``qtpe.hdl.formats``).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from .formats import show

__all__ = ["Preset", "Kind", "KIND_MODULES", "register", "unregister", "all_kinds", "get_kind",
           "kind_of", "default_kind", "load"]

#: The modules that register the built-in kinds, in the order ``qtpe kinds`` lists them. The
#: first is the default kind (``pe`` omitted).
KIND_MODULES = (
    "qtpe.hdl.kind_mac",
    "qtpe.hdl.kind_bitserial",
    "qtpe.hdl.kind_shiftadd",
    "qtpe.hdl.kind_lut",
    "qtpe.hdl.kind_fpmac",
    "qtpe.hdl.kind_mxdot",
    "qtpe.hdl.kind_lmul",
)


def load(ref: str) -> Any:
    """The object a ``"module:attribute"`` reference names."""
    module, _, attr = ref.partition(":")
    return getattr(importlib.import_module(module), attr)


@dataclass(frozen=True)
class Preset:
    """A named config: the record, a one-line description, and whether ``make bench``
    measures it (``bench``)."""

    config: Any
    description: str
    bench: bool = False


@dataclass(frozen=True)
class Kind:
    """One PE family.

    Attributes:
        name: the value of the ``pe`` key.
        config: its ``PEConfig`` subclass (``KIND`` = ``name``).
        summary: one line for listings.
        component: ``"module:Class"`` of the generated top level of one PE (a
            ``wiring.Component`` built from the config).
        cell: ``"module:Class"`` of the array cell (``qtpe.hdl.array.Cell`` subclass), or
            ``None`` where the kind has no arrays.
        model: ``"module:Class"`` of the golden model of one PE (``qtpe.tb.models``).
        testbench: the cocotb test module of one PE (``qtpe.tb.test_pe_*``).
        presets: name -> ``Preset``, PEs and arrays of the kind.
        examples: configs that cover the kind's corners (widths, signedness, overflow,
            latency options), for the shared PE contract tests.
        array_examples: small arrays of the kind for the shared array tests in Amaranth's
            simulator; array_regression: arrays the regression builds on both simulators
            (besides the kind's bench array presets).
    """

    name: str
    config: type
    summary: str
    component: str
    cell: str | None
    model: str
    testbench: str
    presets: dict[str, Preset] = field(default_factory=dict)
    examples: tuple = ()
    array_examples: tuple = ()
    array_regression: tuple = ()

    def __post_init__(self):
        if getattr(self.config, "KIND", None) != self.name:
            raise ValueError(f"kind {show(self.name)}: its config {self.config.__name__} has "
                             f"KIND = {show(getattr(self.config, 'KIND', None))}")
        object.__setattr__(self, "presets", MappingProxyType(dict(self.presets)))

    @classmethod
    def declare(cls, config: type, facts: dict) -> Kind:
        """The kind whose record is ``config`` (name: ``config.KIND``) and whose other facts
        are a kind module's declarations ``facts`` (its ``globals()``): ``SUMMARY``,
        ``COMPONENT``, ``CELL``, ``MODEL``, ``TESTBENCH`` and, where it has them, ``PRESETS``,
        ``EXAMPLES``, ``ARRAY_EXAMPLES``, ``ARRAY_REGRESSION``."""
        return cls(name=config.KIND, config=config, summary=facts["SUMMARY"],
                   component=facts["COMPONENT"], cell=facts.get("CELL"), model=facts["MODEL"],
                   testbench=facts["TESTBENCH"], presets=facts.get("PRESETS", {}),
                   examples=facts.get("EXAMPLES", ()),
                   array_examples=facts.get("ARRAY_EXAMPLES", ()),
                   array_regression=facts.get("ARRAY_REGRESSION", ()))

    @property
    def component_class(self) -> type:
        return load(self.component)

    @property
    def cell_class(self) -> type | None:
        return None if self.cell is None else load(self.cell)

    @property
    def model_class(self) -> type:
        return load(self.model)

    @property
    def has_arrays(self) -> bool:
        return self.cell is not None


_REGISTRY: dict[str, Kind] = {}
_LOADED = False


def _ensure_loaded() -> None:
    global _LOADED
    if not _LOADED:
        _LOADED = True
        for module in KIND_MODULES:
            importlib.import_module(module)


def register(kind: Kind) -> Kind:
    """Add ``kind`` to the registry (once: a second kind of the same name is an error)."""
    old = _REGISTRY.get(kind.name)
    if old is not None and old != kind:
        raise ValueError(f"a PE kind named {show(kind.name)} is already registered")
    _REGISTRY[kind.name] = kind
    return kind


def unregister(name: str) -> None:
    """Remove a kind (tests that register a kind of their own clean up with this)."""
    _REGISTRY.pop(name, None)


def _order(kind: Kind) -> int:
    """Built-in kinds in ``KIND_MODULES`` order (whatever imported them first), then the
    others in registration order."""
    module = kind.config.__module__
    return KIND_MODULES.index(module) if module in KIND_MODULES else len(KIND_MODULES)


def all_kinds() -> tuple[Kind, ...]:
    _ensure_loaded()
    return tuple(sorted(_REGISTRY.values(), key=_order))


def get_kind(name: object) -> Kind:
    """The kind named ``name``; ValueError naming the value and the registered kinds."""
    _ensure_loaded()
    if isinstance(name, str) and name in _REGISTRY:
        return _REGISTRY[name]
    allowed = ", ".join(repr(k.name) for k in all_kinds())
    raise ValueError(f"pe must be one of {allowed}, not {show(name)}")


def kind_of(config: object) -> Kind:
    """The kind of a PE config record (or of an array's ``pe_config``)."""
    pe_config = getattr(config, "pe_config", config)
    return get_kind(type(pe_config).KIND)


def default_kind() -> Kind:
    """The first kind of ``KIND_MODULES``: what a config without ``pe`` builds."""
    return all_kinds()[0]
