// Size limits of one upload, checked before any build work and again on the built output.
export interface UploadLimits {
  /** bytes of one file, as uploaded (after decompression) */
  maxFileBytes: number;
  /** bytes of the whole upload after decompression, and of the built deployment */
  maxDeploymentBytes: number;
  /** number of files in the upload */
  maxFiles: number;
  /** bytes of the request body as sent (compressed, for archives) */
  maxRequestBytes: number;
}

export const defaultUploadLimits: UploadLimits = {
  maxFileBytes: 10 * 1024 * 1024,
  maxDeploymentBytes: 25 * 1024 * 1024,
  maxFiles: 5000,
  maxRequestBytes: 25 * 1024 * 1024,
};

export function formatBytes(n: number): string {
  if (n >= 1024 * 1024) return `${(n / 1024 / 1024).toFixed(n % (1024 * 1024) === 0 ? 0 : 1)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(n % 1024 === 0 ? 0 : 1)} KiB`;
  return `${n} bytes`;
}
