"""Every node type taskloom can run, by its `type` name. A literal table: no import magic."""

from __future__ import annotations

from taskloom.nodes.action import ActionNode
from taskloom.nodes.agent import AgentNode
from taskloom.nodes.base import Node
from taskloom.nodes.classifier import ClassifierNode
from taskloom.nodes.code import CodeNode
from taskloom.nodes.guardrail import GuardrailNode
from taskloom.nodes.node_pointer import NodePointerNode
from taskloom.nodes.orchestration import OrchestrationNode
from taskloom.nodes.parallel import ParallelNode
from taskloom.nodes.self_schedule import SelfScheduleNode
from taskloom.nodes.send_to_end import SendToEndNode
from taskloom.nodes.summarizer import SummarizerNode
from taskloom.nodes.wait import WaitNode

NODE_TYPES: dict[str, Node] = {
    "action": ActionNode(),
    "agent": AgentNode(),
    "classifier": ClassifierNode(),
    "code": CodeNode(),
    "guardrail": GuardrailNode(),
    "node_pointer": NodePointerNode(),
    "orchestration": OrchestrationNode(),
    "parallel": ParallelNode(),
    "self_schedule": SelfScheduleNode(),
    "send_to_end": SendToEndNode(),
    "summarizer": SummarizerNode(),
    "wait": WaitNode(),
}

# what validation needs of each type: the model its `definition` must fit
NODE_CONFIGS = {name: node.config_model for name, node in NODE_TYPES.items()}
