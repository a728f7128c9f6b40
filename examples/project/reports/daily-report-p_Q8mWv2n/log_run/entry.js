export default defineComponent({
  async run({ steps, $ }) {
    console.log(steps.create_email_text.$return_value.email);
    return { logged: true };
  },
});
