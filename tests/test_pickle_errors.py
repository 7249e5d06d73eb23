"""Every error crosses a process boundary intact (imports run in a child
process and their errors reach the API as the same exceptions)."""

from __future__ import annotations

import inspect
import pickle

from hashmatch import errors


def test_every_error_pickles_to_the_same_message() -> None:
    samples = {
        errors.UnknownBankError: ("known",),
        errors.UnknownContentError: ("known", 7),
        errors.UnknownSignalTypeError: ("nope", ["md5", "pdq"]),
    }
    for cls in vars(errors).values():
        if not (inspect.isclass(cls) and issubclass(cls, errors.HashmatchError)):
            continue
        error = cls(*samples.get(cls, ("something went wrong",)))
        copy = pickle.loads(pickle.dumps(error))
        assert type(copy) is cls
        assert str(copy) == str(error)
