import { ErrorView } from '../components/ErrorView';

export function NotFound() {
  return <ErrorView status={404} message="There is no page at this address." />;
}
