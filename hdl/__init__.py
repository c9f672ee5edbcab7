"""Hardware: number formats, PE configs (plain Python) and Amaranth components.

Importing this package does not import Amaranth; the components live in their own modules
(``qtpe.hdl.pe_mac``) so that golden models can use the records alone.
"""
