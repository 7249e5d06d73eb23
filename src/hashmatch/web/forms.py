"""What a form sent back and what was wrong with it, for showing it again.

    form = FormState({"name": name})
    if not name:
        form.errors["name"] = "A bank needs a name."
    if form.errors:
        return render(request, "banks/new.html", viewer, form=form, status=422)

Templates show each error next to its field (``_macros.html``'s ``field``),
with the values the person typed kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class FormState:
    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    def value(self, name: str, default: str = "") -> str:
        return self.values.get(name, default)

    @property
    def ok(self) -> bool:
        return not self.errors
