"""Plain typed values returned by the handlers, beside the native ones."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kubescale._native import html_table
from kubescale.errors import ScaleBatchError

if TYPE_CHECKING:
    from kubescale._native import BatchEntry, Decision

__all__ = ["Decisions", "ScaleBatch"]


class Decisions(list["Decision"]):
    """The decisions of one scale-to-zero pass: a ``list`` of ``Decision`` that a notebook shows
    as one table (service, direction, reason, error, and what was done or would be done)."""

    def _repr_html_(self) -> str:
        dry = any(d.dry_run for d in self)
        head = ["service", "direction", "reason", "error", "would do" if dry else "done"]
        rows = [[d.service, d.direction, d.reason, d.error or "", "; ".join(d.actions)] for d in self]
        return html_table("dry run: nothing was written" if dry else "scale-to-zero pass", head, rows)


class ScaleBatch(list["BatchEntry"]):
    """The outcome of a fleet call (``scale_all``, ``sleep``, ``wake``): a ``list`` with one
    ``BatchEntry`` per target, views by outcome, ``to_dict()`` and a table in a notebook.

    Nothing raises for a partial failure: look at ``failed``, or call ``raise_for_errors()``
    (or pass ``raise_on_error=True`` to the call)."""

    @property
    def changed(self) -> list[BatchEntry]:
        """The targets given a new count (or, in a dry run, that would be)."""
        return [e for e in self if e.changed]

    @property
    def failed(self) -> list[BatchEntry]:
        """The targets that failed; each entry's ``error`` is the exception."""
        return [e for e in self if e.error is not None]

    @property
    def unchanged(self) -> list[BatchEntry]:
        """The targets that did not fail and kept their count (skipped ones included)."""
        return [e for e in self if e.error is None and not e.changed]

    @property
    def skipped(self) -> list[BatchEntry]:
        """The targets left alone on purpose, each with why in ``skipped``."""
        return [e for e in self if e.skipped is not None]

    def raise_for_errors(self) -> ScaleBatch:
        """Raises ``ScaleBatchError`` (carrying this batch) if any target failed.

        Returns:
            ScaleBatch: this batch, when nothing failed.

        Raises:
            ScaleBatchError: naming the first failures; ``errors`` holds every one.
        """
        failed = self.failed
        if failed:
            shown = "; ".join(f"{_place(e)}: {e.error}" for e in failed[:3])
            more = f" (and {len(failed) - 3} more)" if len(failed) > 3 else ""
            message = f"{len(failed)} of {len(self)} targets failed: {shown}{more}"
            raise ScaleBatchError(message, self, [e.error for e in failed])
        return self

    def to_dict(self) -> dict[str, Any]:
        """The counts by outcome and every entry as a plain dict (for JSON or YAML).

        Returns:
            dict[str, Any]: ``changed``, ``unchanged``, ``failed``, ``skipped`` (counts) and
            ``items`` (each entry's ``to_dict()``).
        """
        return {
            "changed": len(self.changed),
            "unchanged": len(self.unchanged),
            "failed": len(self.failed),
            "skipped": len(self.skipped),
            "items": [e.to_dict() for e in self],
        }

    def __repr__(self) -> str:
        counts = f"{len(self.changed)} changed, {len(self.unchanged)} unchanged, {len(self.failed)} failed"
        return f"ScaleBatch({len(self)} targets: {counts})"

    def rows(self) -> list[dict[str, Any]]:
        """One row per target for a table: ``namespace``, ``target``, ``from``, ``to`` and
        ``outcome`` (the reason, or the error's class and message).

        Returns:
            list[dict[str, Any]]
        """
        out = []
        for e in self:
            r = e.result
            failed = f"{type(e.error).__name__}: {e.error}" if e.error is not None else None
            out.append(
                {
                    "namespace": e.namespace,
                    "target": e.target,
                    "from": r.previous if r else None,
                    "to": r.replicas if r else None,
                    "outcome": failed or (r.reason if r else ""),
                }
            )
        return out

    def _repr_html_(self) -> str:
        rows = self.rows()
        head = ["namespace", "target", "from", "to", "outcome"]
        cells = [["" if row[k] is None else str(row[k]) for k in head] for row in rows]
        return html_table(repr(self), head, cells)


def _place(e: BatchEntry) -> str:
    return f"{e.namespace}/{e.target}" if e.namespace else e.target
