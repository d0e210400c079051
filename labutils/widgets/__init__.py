"""Widgets, one module per notebook; each is a thin view (``interactive_view``) over a pure function
that a unit test calls directly."""
from __future__ import annotations

from labutils.viz.interactive import (  # noqa: F401
    Shown,
    interactive_view,
)
from labutils.widgets.nb00 import (  # noqa: F401
    gradient_descent_widget,
)
from labutils.widgets.nb01 import (  # noqa: F401
    optimizer_race_widget,
)
from labutils.widgets.nb02 import (  # noqa: F401
    tokenizer_widget,
)
from labutils.widgets.nb03 import (  # noqa: F401
    attention_widget,
)
from labutils.widgets.nb04 import (  # noqa: F401
    sampling_view,
    sampling_widget,
)
from labutils.widgets.nb05 import (  # noqa: F401
    fill_mask_widget,
    neighbours_widget,
)
from labutils.widgets.nb06 import (  # noqa: F401
    classifier_widget,
)
from labutils.widgets.nb07 import (  # noqa: F401
    lr_schedule_widget,
)
from labutils.widgets.nb08 import (  # noqa: F401
    lora_rank_widget,
)
from labutils.widgets.nb09 import (  # noqa: F401
    chat_view,
    chat_widget,
)
from labutils.widgets.nb10 import (  # noqa: F401
    memory_widget,
)
from labutils.widgets.nb11 import (  # noqa: F401
    budget_widget,
)
from labutils.widgets.nb12 import (  # noqa: F401
    capacity_widget,
)
from labutils.widgets.nb13 import (  # noqa: F401
    chatbot_view,
    chatbot_widget,
    entity_view,
    entity_widget,
)
from labutils.widgets.nb14 import (  # noqa: F401
    attribution_widget,
    pii_redactor_widget,
)
from labutils.widgets.nb15 import (  # noqa: F401
    threshold_widget,
)

__all__ = [
    'Shown', 'interactive_view', 'gradient_descent_widget', 'optimizer_race_widget', 'tokenizer_widget',
    'attention_widget', 'sampling_view', 'sampling_widget', 'fill_mask_widget', 'neighbours_widget',
    'classifier_widget', 'lr_schedule_widget', 'lora_rank_widget', 'chat_view', 'chat_widget',
    'memory_widget', 'budget_widget', 'capacity_widget',
    'entity_view', 'entity_widget', 'chatbot_view', 'chatbot_widget',
    'threshold_widget',
    'pii_redactor_widget', 'attribution_widget',
]
