// The checks of a binding operation's input that every surface shares, so that the page refuses a
// bad address, handle, setup code or command before it reads the proof it would spend, exactly as
// the CLI does (docs/spec.md §7).
export { parseDeviceAddress } from "./address.js";
export { checkCommandShape } from "./command.js";
export { MAX_READINGS } from "./history.js";
export { handle as handleText } from "./messages.js";
export { setupCode } from "./pairing.js";
