// What the library reads from rendered manifests. Internal.

/** The pod template of a rendered workload, or the pod itself: what the admission rules' `podSpec` and `podMetadata` read. */
export function podTemplateOfManifest(manifest: any): any {
  return manifest.kind === 'Pod' ? manifest : manifest.kind === 'CronJob' ? manifest.spec?.jobTemplate?.spec?.template : manifest.spec?.template;
}
