// The short-connection app of the models benchmark: `GET /` -> 'Hello, World!', as in bench/http.
// With `Connection: close` on the request the server closes after the response.
import { httpApp, router } from '../../dist/src/index.js';

export default httpApp(router().get('/', (req, res) => res.send('Hello, World!')));
