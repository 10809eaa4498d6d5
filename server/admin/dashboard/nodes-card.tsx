// The workers view's Nodes card (its behaviour: assets/nodes.mjs): the islet nodes sharing the
// store (GET /v1/nodes), each with its address, applied revision and lag, workers, version,
// last heartbeat, and whether it is live and ready.
import type { FC } from 'hono/jsx';

export const NodesCard: FC = () => (
  <div class="card" id="nodes-card">
    <h3>Nodes</h3>
    <p class="note" id="nodes-summary" aria-live="polite"></p>
    <div class="table-wrap">
      <table id="nodes" class="stack-narrow">
        <caption class="visually-hidden">Nodes sharing the store</caption>
        <thead>
          <tr>
            <th scope="col">Node</th>
            <th scope="col">Address</th>
            <th scope="col">State</th>
            <th scope="col">Revision</th>
            <th scope="col">Lag</th>
            <th scope="col">Workers</th>
            <th scope="col">Version</th>
            <th scope="col">Last seen</th>
          </tr>
        </thead>
        <tbody></tbody>
      </table>
    </div>
  </div>
);
