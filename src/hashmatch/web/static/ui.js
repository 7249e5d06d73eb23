// hashmatch's own script: niceties only; every page works without it.
"use strict";

// Shielded media: revealed while the button is held, or for a few seconds
// after a click; blurred again when the pointer or the focus leaves.
const REVEAL_MS = 4000;
for (const shield of document.querySelectorAll(".shielded")) {
  const button = shield.querySelector("button");
  if (!button) continue;
  let timer = 0;
  const hide = () => {
    clearTimeout(timer);
    shield.classList.remove("revealed");
    button.setAttribute("aria-pressed", "false");
  };
  const show = () => {
    for (const other of document.querySelectorAll(".shielded.revealed")) {
      if (other !== shield) other.classList.remove("revealed");
    }
    shield.classList.add("revealed");
    button.setAttribute("aria-pressed", "true");
    clearTimeout(timer);
    timer = setTimeout(hide, REVEAL_MS);
  };
  // A press shows at once; letting go after a hold hides again, after a
  // short press (a click) the reveal lasts REVEAL_MS.  Keyboard "clicks"
  // (detail 0) toggle.
  let pressedAt = 0;
  button.addEventListener("pointerdown", () => {
    pressedAt = Date.now();
    show();
  });
  button.addEventListener("pointerup", () => {
    if (Date.now() - pressedAt > 400) hide();
  });
  button.addEventListener("click", (event) => {
    if (event.detail === 0) shield.classList.contains("revealed") ? hide() : show();
  });
  shield.addEventListener("pointerleave", hide);
  button.addEventListener("blur", hide);
}

// Copy buttons: data-copy names the element whose text is copied.
for (const button of document.querySelectorAll("button[data-copy]")) {
  button.hidden = false;
  button.addEventListener("click", async () => {
    const source = document.getElementById(button.dataset.copy);
    if (source && navigator.clipboard) {
      await navigator.clipboard.writeText(source.textContent.trim());
      button.textContent = "Copied";
    }
  });
}
