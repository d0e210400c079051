"""One base class for every mistake a learner can make: :class:`LabError`.

Each message is one sentence that says what is valid. The command line (``python -m labutils``) catches
``LabError`` and prints the sentence, without a traceback; a notebook shows it as the last line of the error.
The subclasses say which part of the course raised it; all are also ``ValueError`` (and
``ExerciseError`` a ``KeyError``), so ``except ValueError`` written before this base existed still works.
"""
from __future__ import annotations


class LabError(ValueError):
    """A mistake the learner can fix; ``str(err)`` is one sentence that says what to do."""

    def __str__(self) -> str:  # KeyError subclasses would add quotes around the message
        return str(self.args[0]) if self.args else ""


class ProfileError(LabError):
    """An unknown profile name."""


class DataError(LabError):
    """A data set that is unknown, missing or asked for wrongly; the message says what to do."""


class TextDataError(LabError):
    """A corpus or text file that cannot be used (missing, too small, not UTF-8); one sentence."""


class MetricError(LabError):
    """An unknown metric name; the message lists the valid ones."""


class ModelError(LabError):
    """A model the learner asked for does not exist or cannot be loaded here (one sentence)."""


class ChatLMError(ModelError):
    """The chat LM could not be fetched, converted, loaded or prompted; the message says why."""


class TrainingError(LabError):
    """A setting or input the training code cannot use; the message says what is valid."""


class MLMError(LabError):
    """An argument to a masking/LM helper is out of range; the message says what is valid."""


class FinetuneError(LabError):
    """A setting of the fine-tuning helpers that cannot work (the message says what is valid)."""


class ChallengeError(LabError):
    """A learner-supplied setting of notebook 07 is out of range (the message says what is valid)."""


class ExerciseError(LabError, KeyError):
    """An unknown exercise id."""


class CLIError(LabError):
    """A mistake the user can fix; printed as one sentence, exit status 2."""


class InstructError(LabError):
    """A prompt, template, SFT or DPO setting of notebook 09 that cannot work (the message says what is valid)."""


class PeftError(LabError):
    """A parameter-efficient fine-tuning setting or adapter that cannot work here (notebook 08); one sentence."""


class ParallelError(LabError):
    """A parallel-training setting that cannot work (notebook 10): a wrong world size, a taken port; one sentence."""
