"""The advisor: which regime (STL, MTL or transfer) for a family, predicted from cheap descriptors of its
training rows by two calibrated heads trained on the suite's own outcomes (docs/advisor.md)."""


class AdviceError(ValueError):
    """The advisor cannot answer for this input; the message is one line naming the culprit."""
