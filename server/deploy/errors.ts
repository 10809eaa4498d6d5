// Errors of the deploy path. Each carries a stable `code` and the HTTP status the admin API
// answers with; the message says what was wrong and where (file:line:column, importer and
// specifier, the limit crossed), because it is shown to the tenant as is.
export class DeployError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status: number = 400,
  ) {
    super(message);
    this.name = 'DeployError';
  }
}
