import t from 'tap';
import { arrayHeader, bulk, command, errorReply, integer, simpleString } from '../src/index.js';

t.test('replies are encoded byte for byte as RESP2', async (t) => {
  t.equal(simpleString('OK').toString(), '+OK\r\n');
  t.equal(errorReply('ERR unknown command').toString(), '-ERR unknown command\r\n');
  t.equal(integer(-42).toString(), ':-42\r\n');
  t.equal(integer(2n ** 63n - 1n).toString(), ':9223372036854775807\r\n');
  t.equal(bulk(null).toString(), '$-1\r\n');
  t.equal(bulk('').toString(), '$0\r\n\r\n');
  t.equal(bulk('héllo').toString(), '$6\r\nhéllo\r\n', 'length counts bytes, not characters');
  t.same(bulk(Buffer.from([0, 13, 10, 255])), Buffer.from('$4\r\n\x00\r\n\xff\r\n', 'latin1'), 'binary safe');
  t.equal(arrayHeader(null).toString(), '*-1\r\n');
  t.equal(command(['SET', 'k', 'v']).toString(), '*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n');
});
