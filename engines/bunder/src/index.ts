export { arrayHeader, bulk, command, errorReply, integer, simpleString } from './resp/writer.js';
