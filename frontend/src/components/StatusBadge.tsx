export function statusLabel(status: string | null | undefined): string {
  return status === 'INA' ? 'Inactive' : 'Active';
}

export function StatusBadge({ status }: { status: string | null | undefined }) {
  return <span class={`badge ${status === 'INA' ? 'inactive' : 'active'}`}>{statusLabel(status)}</span>;
}
