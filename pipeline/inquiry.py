"""Inquiries: a unit's question or acknowledgement about a campaign, with no material.

请问总结是否需要盖章？ / 收到，我市将按时报送 belong to the campaign but are not
material: the tracker must not count them, and a person answers them (待回复).
"""

from __future__ import annotations

import re

from pipeline.message import ParsedMessage
from pipeline.textparts import own_text

MAX_CHARS = 400  # longer own text is an article or a report, not a question
_QUESTION = re.compile(
    r"[?？]|请问|是否|能否|可否|可不可以|是不是|怎么|怎样|如何|哪些|哪个|何时|什么时候|多久|吗[。！!\s]*$"
)
_ACK = re.compile(
    r"(?:已|均已|已经)?收到|收悉|知悉|好的|明白|按时报送|将按要求|会按时|将及时|确认参加|无异议"
)
_SENTENCE = re.compile(r"[^。！？!?\n]+[。！？!?]?")


def inquiry_sentence(msg: ParsedMessage) -> str | None:
    """Returns the sentence that asks or acknowledges something, or None.

    Only the sender's own words count (a reply's quote of the notice is full of
    requirements, not questions); a long text is material, never an inquiry.
    """
    own = own_text(msg.body_text or "")
    if len(re.sub(r"\s", "", own)) > MAX_CHARS:
        return None
    for sentence in _SENTENCE.findall(own) or [msg.subject]:
        text = sentence.strip()
        if text and (_QUESTION.search(text) or _ACK.search(text)):
            return text[:200]
    return None
