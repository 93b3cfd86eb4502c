// Swagger UI for /api/v1/docs, from the swagger-ui-dist package (no CDN): it reads the app's OpenAPI document.
import SwaggerUIBundle from "swagger-ui-dist/swagger-ui-bundle.js";

window.addEventListener("DOMContentLoaded", () => {
  const root = document.getElementById("swagger-ui");
  SwaggerUIBundle({ url: root.dataset.spec, dom_id: "#swagger-ui", deepLinking: true });
});
