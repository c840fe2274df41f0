// xhr2 ships no types: it is a Node implementation of the browser's XMLHttpRequest.
declare module 'xhr2' {
  const XMLHttpRequest: typeof globalThis.XMLHttpRequest
  export default XMLHttpRequest
}
