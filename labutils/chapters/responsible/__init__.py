"""Notebook 14, responsible LLMs: interpretability (``attribution``: attention, gradient × input, integrated
gradients, faithfulness; ``probing``: probes per layer, logit lens), privacy (``memorisation``: canaries, exposure,
extraction; ``dp``: DP-SGD by hand and the accountant; ``pii``: detection and redaction), fairness (``fairness``:
WEAT/SEAT, counterfactuals, probability gaps), robustness (``robustness``: typo and synonym attacks, FGM;
``injection``: prompt injection against a small RAG app) and the pipeline's security (``security``). The model
under study comes from ``classifier``."""
from __future__ import annotations

from labutils.chapters.responsible.attribution import (  # noqa: F401
    attention_scores,
    attribution_html,
    baseline_embeds,
    captum_integrated_gradients,
    class_prob,
    delete_positions,
    deletion_test,
    encode,
    explain,
    explanation_html,
    grad_x_input,
    integrated_gradients,
    predicted,
)
from labutils.chapters.responsible.classifier import sentiment_classifier  # noqa: F401
from labutils.chapters.responsible.dp import (  # noqa: F401
    clip_and_noise,
    epsilon,
    lm_example_loss,
    max_abs_difference,
    opacus_clipped_gradient,
    per_sample_grads,
    per_sample_norms,
    train_gpt_dp,
)
from labutils.chapters.responsible.errors import ResponsibleError  # noqa: F401
from labutils.chapters.responsible.fairness import (  # noqa: F401
    COUNTERFACTUAL_GROUPS,
    COUNTERFACTUAL_TEMPLATES,
    OCCUPATIONS,
    SEAT_TEMPLATES,
    WEAT_SETS,
    association,
    counterfactual_eval,
    next_token_logprobs,
    pronoun_gaps,
    run_weat,
    seat_sentences,
    weat,
)
from labutils.chapters.responsible.injection import (  # noqa: F401
    INJECTION,
    MARKER,
    POISONED,
    QUESTIONS,
    STORE,
    injection_trial,
    looks_like_instruction,
    messages,
    poison_store,
    retrieve,
)
from labutils.chapters.responsible.memorisation import (  # noqa: F401
    canary_exposures,
    exposure,
    exposure_figure,
    extraction_attempt,
    insert_canaries,
    make_canaries,
    secret_logprobs,
)
from labutils.chapters.responsible.pii import (  # noqa: F401
    PATTERNS,
    cn_id_check_digit,
    detect_pii,
    evaluate_detector,
    generate_pii_set,
    redact,
    redaction_html,
    valid_cn_id,
)
from labutils.chapters.responsible.probing import (  # noqa: F401
    layer_features,
    logit_lens,
    logit_lens_figure,
    probe_layers,
)
from labutils.chapters.responsible.robustness import (  # noqa: F401
    SYNONYMS,
    attack_success_rate,
    fgm_perturbation,
    greedy_attack,
    prob_fn_for,
    synonym_variants,
    train_fgm,
    typo_variants,
)
from labutils.chapters.responsible.security import (  # noqa: F401
    RELEASE_CHECKLIST,
    MarkerPayload,
    pickle_imports,
    safetensors_header,
    save_safetensors,
    sha256,
    suspicious_imports,
    try_load,
    write_malicious_checkpoint,
)
