"""The models a learner works with, all offline: the bundled MiniLM encoder (``encoder``), tiny configs
(``configs``), the course GPT that notebook 04 trains (``course_gpt``), the pretrained chat LM SmolLM2-135M-Instruct
(``chat``: ``lu.models.chat_lm()``) and the GPT and BERT layers written from scratch in notebook 03 (``scratch``)."""
from __future__ import annotations

from labutils.core.errors import ChatLMError, ModelError  # noqa: F401
from labutils.models.chat import (  # noqa: F401
    GGUF_MEMBER,
    GGUF_NAME,
    MODEL_NAME,
    SMOLLM2_PACKAGE,
    SMOLLM2_WHEEL,
    chat_lm,
    chat_lm_dir,
    chat_lm_info,
    fetch_gguf,
    generate_chat,
    prepare_chat_lm,
)
from labutils.models.configs import (  # noqa: F401
    BERT_SIZES,
    GPT_SIZES,
    tiny_bert_config,
    tiny_gpt_config,
    tiny_modernbert_config,
)
from labutils.models.course_gpt import (  # noqa: F401
    COURSE_GPT_INFO,
    COURSE_GPT_NAMES,
    COURSE_GPT_SETTINGS,
    build_course_gpt,
    course_gpt,
    course_gpt_dir,
    load_causal_lm,
    save_course_gpt,
)
from labutils.models.encoder import (  # noqa: F401
    ENCODER_NAME,
    ENCODER_PACKAGE,
    ENCODER_PIP,
    ENCODER_TASKS,
    embed,
    encoder_path,
    load_encoder,
    load_tokenizer,
    mean_pool,
)
from labutils.train.params import (  # noqa: F401
    count_parameters,
)

__all__ = [
    'ModelError', 'ChatLMError',
    'ENCODER_NAME', 'ENCODER_PACKAGE', 'ENCODER_PIP', 'ENCODER_TASKS', 'encoder_path', 'load_encoder',
    'load_tokenizer', 'mean_pool', 'embed', 'GPT_SIZES', 'BERT_SIZES', 'tiny_gpt_config', 'tiny_bert_config', 'tiny_modernbert_config',
    'COURSE_GPT_NAMES', 'COURSE_GPT_SETTINGS', 'COURSE_GPT_INFO', 'course_gpt_dir', 'save_course_gpt',
    'build_course_gpt', 'course_gpt', 'load_causal_lm', 'SMOLLM2_WHEEL', 'SMOLLM2_PACKAGE', 'GGUF_NAME',
    'GGUF_MEMBER', 'MODEL_NAME', 'chat_lm_dir', 'fetch_gguf', 'prepare_chat_lm', 'chat_lm', 'chat_lm_info',
    'generate_chat', 'count_parameters',
]
