/** One task per example workflow, submitted by `npm run dev`. */
export const exampleTasks = [
  { namespace: 'examples', name: 'linear_workflow', context: { even_number: 2 } },
  { namespace: 'examples', name: 'diamond_workflow', context: { even_number: 2 } },
  { namespace: 'examples', name: 'complex_dag_workflow', context: { even_number: 2 } },
  { namespace: 'examples', name: 'tree_workflow', context: { even_number: 2 } },
  {
    namespace: 'ecommerce',
    name: 'order_fulfillment',
    context: {
      order_id: 'A-1001',
      customer_email: 'ada@example.com',
      items: [
        { sku: 'KB-1', quantity: 2, price: 49.5 },
        { sku: 'MS-7', quantity: 1, price: 19 },
      ],
    },
  },
  // One request per branch of the decision.
  {
    namespace: 'approvals',
    name: 'conditional_approval',
    context: { request_id: 'EXP-1', employee: 'ada', amount: 250, purpose: 'books' },
  },
  {
    namespace: 'approvals',
    name: 'conditional_approval',
    context: { request_id: 'EXP-2', employee: 'grace', amount: 2400, purpose: 'conference' },
  },
  {
    namespace: 'approvals',
    name: 'conditional_approval',
    context: { request_id: 'EXP-3', employee: 'linus', amount: 12000, purpose: 'servers' },
  },
  { namespace: 'data', name: 'csv_processing', context: { file: 'data/sales.csv' } },
];
