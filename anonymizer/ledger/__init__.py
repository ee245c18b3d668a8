"""The transfer ledger: one hash-chained, append-only row per stored object."""

from anonymizer.ledger.repository import ChainReport, Ledger, TransferRecord, row_as_dict

__all__ = ["ChainReport", "Ledger", "TransferRecord", "row_as_dict"]
