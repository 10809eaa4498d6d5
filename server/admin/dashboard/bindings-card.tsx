// The tenant view's Bindings card (its behaviour: assets/bindings.mjs): the tenant's KV
// namespaces, services, cron triggers (each can be run now), callers and origin, and its own
// declarations as JSON, saved through PUT /v1/tenants/{t}/bindings.
import type { FC } from 'hono/jsx';

export const BindingsCard: FC = () => (
  <div class="card">
    <h3>Bindings</h3>
    <p class="note">
      What the function's <code>env</code> and triggers get: the tenant's declarations merged with its deployment's
      wrangler file. A change is picked up by the next request (a new isolate starts).
    </p>
    <ul id="bindings-list" class="plain"></ul>
    <p id="bindings-run" class="muted" aria-live="polite"></p>
    <form id="bindings-form" class="fields">
      <label>
        Declarations (JSON)
        <textarea id="bindings-json" rows={6} spellcheck={false}></textarea>
      </label>
      <button type="submit">Save bindings</button>
    </form>
  </div>
);
