// URLPattern comes from urlpattern-polyfill (the reference implementation's port, tested against
// the WPT urlpattern data); it builds on our URL global. Evaluated on first use.
declare const require: (id: string) => any;
export function loadURLPattern(): unknown {
  return require('urlpattern-polyfill/urlpattern').URLPattern;
}
