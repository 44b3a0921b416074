"""What an agent may call: HTTP actions and remote MCP servers' tools, behind one `Tool` shape."""

from taskloom.llm.tools.base import Tool, ToolResult

__all__ = ["Tool", "ToolResult"]
