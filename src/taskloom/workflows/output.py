"""The END block: shape the last node's output into the task's `result` text."""

from __future__ import annotations

import json
from typing import Any

from taskloom.workflows.definition import OutputFormat


def shape_result(output: Any, output_format: OutputFormat) -> str:
    """`text`/`markdown`: strings as they are, other values as JSON text.

    `json`: always JSON text; a string that already holds JSON is kept, any other string
    becomes a JSON string.
    """
    if output_format == "json":
        if isinstance(output, str):
            try:
                json.loads(output)
            except ValueError:
                return json.dumps(output, ensure_ascii=False)
            return output
        return json.dumps(output, ensure_ascii=False)
    if isinstance(output, str):
        return output
    return json.dumps(output, ensure_ascii=False)
