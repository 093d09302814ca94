// evalloop's page behaviour. Pages carry no inline scripts or on* handlers: the
// Content-Security-Policy forbids them, so each behaviour is a data attribute handled here.

// <select data-submit-on-change> submits its form as soon as a choice is made.
document.addEventListener("change", (event) => {
  const field = event.target.closest("[data-submit-on-change]");
  if (field && field.form) {
    field.form.requestSubmit();
  }
});
