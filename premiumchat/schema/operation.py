"""The one Strawberry extension every operation runs.

Strawberry builds each extension per operation and, for each of its steps
(operation, parse, validation, execution, each streamed result), looks every
extension's hook up again and wraps the ones it finds in context managers; a
subscription keeps the instances and their suspended hooks for its whole
life. So the schema's concerns share one extension and one `on_operation`
hook (plus `on_stream_result` for the results a stream yields):

- the document, from the schema's DocumentStore, with the limits already
  checked when it was cached (token count, depth, aliases, introspection,
  one operation per request unless named: see `documents.py`);
- the contract's errors: every error a client gets is mapped by
  `to_contract_error`, streamed results included;
- observability: the access log line, the operation metrics and the error
  counter, over the whole operation (a subscription's whole stream).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from strawberry.extensions import SchemaExtension

from premiumchat.observability import OperationRecord
from premiumchat.schema.documents import DocumentStore
from premiumchat.schema.errors import map_contract_errors


class OperationExtension(SchemaExtension):
    def __init__(self, documents: DocumentStore) -> None:
        self.documents = documents
        self._streamed = False

    def on_operation(self) -> Iterator[None]:
        ctx = self.execution_context
        record = self._record = OperationRecord(ctx.context)
        started = time.perf_counter()
        try:
            self.documents.prepare(ctx)
            yield
        finally:
            # Counted and logged even when an exception passes through; mapped after
            # (contract_code reads either), and only when none did.
            if not self._streamed:
                record.count_errors(ctx.result)
            record.finish(ctx, time.perf_counter() - started)
        if not self._streamed:
            map_contract_errors(ctx.result)

    def on_stream_result(self, result: Any) -> Iterator[None]:
        self._streamed = True
        map_contract_errors(result)
        self._record.count_errors(result)
        yield None
