"""Every node type taskloom can run, by its `type` name. A literal table: no import magic."""

from __future__ import annotations

from taskloom.nodes.base import Node
from taskloom.nodes.code import CodeNode
from taskloom.nodes.node_pointer import NodePointerNode
from taskloom.nodes.parallel import ParallelNode
from taskloom.nodes.send_to_end import SendToEndNode

NODE_TYPES: dict[str, Node] = {
    "code": CodeNode(),
    "node_pointer": NodePointerNode(),
    "parallel": ParallelNode(),
    "send_to_end": SendToEndNode(),
}
