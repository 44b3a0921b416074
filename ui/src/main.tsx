import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { App } from "./App";
// xyflow's base styles first, so that styles.css overrides them (the canvas itself loads lazily)
import "@xyflow/react/dist/style.css";
import "./styles.css";

const root = document.getElementById("root");
if (root) {
  createRoot(root).render(
    <StrictMode>
      <App />
    </StrictMode>,
  );
}
