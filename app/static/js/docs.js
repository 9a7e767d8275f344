// /docs: Swagger UI over this app's /openapi.json (app/static/vendor/swagger-ui-dist).
// A file of its own, not an inline script, so the page's Content-Security-Policy allows
// only scripts from the app itself.
window.addEventListener("DOMContentLoaded", function () {
  var root = document.getElementById("swagger-ui");
  var csrf = document.querySelector('meta[name="csrf-token"]');
  window.ui = window.SwaggerUIBundle({
    url: root.dataset.spec,
    domNode: root,
    deepLinking: true,
    presets: [window.SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    validatorUrl: null, // never ask a validator on the internet
    requestInterceptor: function (request) {
      // A signed-in browser's unsafe requests carry the session's CSRF token.
      if (csrf && request.method && request.method.toUpperCase() !== "GET") {
        request.headers["X-CSRF-Token"] = csrf.content;
      }
      return request;
    },
  });
});
